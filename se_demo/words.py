"""The dashboard's words: the glossary students see, and one way to write numbers.

Pages pass the glossary's definitions as ``help=`` where a term first appears, and the
glossary expander lists them all, so a term means the same thing everywhere. Shares and
probabilities are written one way everywhere: `percent` (``0.97 -> "97 %"``), and so are
p-values: `p_value` (``"p = 0.0421"``, ``"p < 0.001"``).
"""

from __future__ import annotations

GLOSSARY: dict[str, str] = {
    "SE block": (
        "Squeeze-and-Excitation block (Hu et al., 2018): a small add-on after a convolution "
        "that looks at all of its channels at once and rescales each channel by a learned "
        "weight between 0 and 1 that depends on the input."
    ),
    "squeeze": (
        "The SE block's first step: each channel's feature map (H x W numbers) is summarised "
        "by one number, its mean (global average pooling, as in the SE paper). The original "
        "study's TensorFlow code used the sum instead."
    ),
    "excitation": (
        "The SE block's output per channel: a weight between 0 (switch the channel off) and "
        "1 (keep it as it is), computed by two small fully connected layers from the squeeze."
    ),
    "gate": (
        "The function that turns the excitation layers' output into weights; the sigmoid "
        "1 / (1 + e^-x) squashes any number into 0..1."
    ),
    "reduction ratio": (
        "r: how much the SE block's bottleneck shrinks the channels, C -> C/r -> C. "
        "Here r = 2, as in the original study; the paper uses 16 on ImageNet."
    ),
    "original study": (
        "The TensorFlow repository this dashboard reproduces: it trained the same two "
        "networks (the basic CNN and the SENet) for 100 epochs with Adam at learning rate "
        "1e-4 and batch 32, and reported their MNIST test metrics."
    ),
    "FLOPs": (
        "Floating-point operations for one image: a multiply and an add count as 2. "
        "Counted here by PyTorch's FLOP counter over convolutions and matrix multiplies."
    ),
    "macro F1": (
        "F1 is the harmonic mean of precision and recall for one class; macro F1 averages "
        "it over the ten classes, each counting equally."
    ),
    "pp": (
        "percentage points: the plain difference of two percentages "
        "(99.3 % - 99.1 % = 0.2 pp), not a relative change."
    ),
    "McNemar's test": (
        "A test for two models scored on the same test images: it looks only at the images "
        "where exactly one model is right and asks whether that split could be chance. "
        "It compares these two trained models, not the two designs in general."
    ),
    "Wilcoxon": (
        "The Wilcoxon signed-rank test: compares paired numbers (here the two models trained "
        "with the same random seeds) without assuming they are normally distributed."
    ),
    "saturation": (
        "The share of a block's excitations that sit at the top of the range (above 0.9): "
        "a saturated block passes its channels through almost unchanged instead of "
        "weighting them."
    ),
    "class-specificity": (
        "How much of the excitations' spread is explained by the class of the image "
        "(eta squared, between 0 and 1): near 0, every class gets the same weights; near 1, "
        "the block weights channels differently for each class."
    ),
}

# How each term is recognised in a page's text (case-insensitive where it is a word).
TERM_PATTERNS: dict[str, str] = {
    "SE block": r"\bSE blocks?\b",
    "squeeze": r"(?i)\bsqueez",
    "excitation": r"(?i)\bexcitations?\b",
    "gate": r"(?i)\bgates?\b",
    "reduction ratio": r"(?i)\breduction ratio",
    "FLOPs": r"\bFLOPs\b",
    "macro F1": r"(?i)\bmacro[- ]?(F1|average)",
    "pp": r"\d pp\b",
    "McNemar's test": r"McNemar",
    "Wilcoxon": r"Wilcoxon",
    "saturation": r"(?i)\bsaturat",
    "class-specificity": r"(?i)class-specific|eta squared|η²",
}


def explain(*terms: str) -> str:
    """Help text for one or more glossary terms (unknown terms raise KeyError).

    One term: its definition. Several (an element where several first appear): each as
    "**term**: definition", one paragraph each.
    """
    if len(terms) == 1:
        return GLOSSARY[terms[0]]
    return "\n\n".join(f"**{term}**: {GLOSSARY[term]}" for term in terms)


def percent(share: float, digits: int = 0) -> str:
    """A share or probability in [0, 1] as a percentage with a space: 0.9661 -> '97 %'."""
    return f"{share * 100:.{digits}f} %"


P_FLOOR = 0.001  # smaller p-values are written "p < 0.001", never "p = 0" or "p = 3e-135"


def p_value(p: float) -> str:
    """A p-value as a reader should see it: 'p = 0.0421', 'p = 1', 'p < 0.001'.

    Three significant digits down to 0.001; below that only the bound, because an exact
    float there (or "0" once it underflows) claims a precision no test has.
    """
    return "p < 0.001" if p < P_FLOOR else f"p = {p:.3g}"


def unbroken(text: str) -> str:
    """``text`` that a narrow column never wraps inside: no-break spaces, and word joiners
    (U+2060) after hyphens and slashes, where browsers break ('T-/shirt/top', '75.4 / %)').
    """
    return text.replace(" ", "\u00a0").replace("-", "-\u2060").replace("/", "/\u2060")


def with_article(noun: str) -> str:
    """'a 7', 'an 8', 'an Ankle boot', 'a T-shirt/top': the indefinite article spoken aloud."""
    return f"{'an' if noun[:1].lower() in 'aeio8' else 'a'} {noun}"
