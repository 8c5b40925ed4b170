// TeX maths in titles and abstracts, rendered by KaTeX as MathML (docs/maths.md).
// The server finds the formulas (paperwire/papers/latex.py) and puts each, source and
// delimiters, in a <span class="maths">. On a page that has such a span, this file loads the
// vendored KaTeX (about 270 kB) and maths.css (the maths font), and replaces each source by
// MathML, which browsers lay out themselves: no inline style, which the Content-Security-Policy
// refuses. A formula KaTeX cannot read stays as its source, so nothing is ever lost. A page
// without formulas loads nothing, until some are added to it (a comment posted in place:
// comments.js calls window.paperwireMaths.render on what it adds).
(() => {
  "use strict";
  const files = document.currentScript.dataset;

  // Chromium lays MathML out but ignores mathvariant (only "normal" is in MathML Core), so
  // \mathbb{R}, \mathcal{O}, \mathbf{x} would look plain: use the Unicode mathematical
  // alphanumeric characters instead, which every engine draws.
  const LATIN = { // variant: [offset of A, offset of a] from U+1D400
    "bold": [0x000, 0x01a], "italic": [0x034, 0x04e], "bold-italic": [0x068, 0x082],
    "script": [0x09c, 0x0b6], "bold-script": [0x0d0, 0x0ea], "fraktur": [0x104, 0x11e],
    "double-struck": [0x138, 0x152], "bold-fraktur": [0x16c, 0x186],
    "sans-serif": [0x1a0, 0x1ba], "bold-sans-serif": [0x1d4, 0x1ee],
    "sans-serif-italic": [0x208, 0x222], "sans-serif-bold-italic": [0x23c, 0x256],
    "monospace": [0x270, 0x28a],
  };
  const DIGIT = { // variant: code point of 0
    "bold": 0x1d7ce, "double-struck": 0x1d7d8, "sans-serif": 0x1d7e2,
    "bold-sans-serif": 0x1d7ec, "monospace": 0x1d7f6,
  };
  // Letters that had a code point before the mathematical block: its slots for them are empty.
  const HOLES = {
    "italic": { h: 0x210e },
    "script": { B: 0x212c, E: 0x2130, F: 0x2131, H: 0x210b, I: 0x2110, L: 0x2112, M: 0x2133,
      R: 0x211b, e: 0x212f, g: 0x210a, o: 0x2134 },
    "fraktur": { C: 0x212d, H: 0x210c, I: 0x2111, R: 0x211c, Z: 0x2128 },
    "double-struck": { C: 0x2102, H: 0x210d, N: 0x2115, P: 0x2119, Q: 0x211a, R: 0x211d, Z: 0x2124 },
  };

  function styled(text, variant) {
    let out = "";
    for (const ch of text) {
      const hole = HOLES[variant] && HOLES[variant][ch];
      if (hole) out += String.fromCodePoint(hole);
      else if (LATIN[variant] && ch >= "A" && ch <= "Z") out += String.fromCodePoint(0x1d400 + LATIN[variant][0] + ch.charCodeAt(0) - 65);
      else if (LATIN[variant] && ch >= "a" && ch <= "z") out += String.fromCodePoint(0x1d400 + LATIN[variant][1] + ch.charCodeAt(0) - 97);
      else if (DIGIT[variant] && ch >= "0" && ch <= "9") out += String.fromCodePoint(DIGIT[variant] + ch.charCodeAt(0) - 48);
      else out += ch;
    }
    return out;
  }

  // Mathematical Greek: capitals from Alpha, then nabla, then small letters from alpha.
  const GREEK = {
    "bold": 0x1d6a8, "italic": 0x1d6e2, "bold-italic": 0x1d71c,
    "bold-sans-serif": 0x1d756, "sans-serif-bold-italic": 0x1d790,
  };

  function styledGreek(ch, variant) {
    const code = ch.codePointAt(0);
    if (!GREEK[variant]) return ch;
    if (code >= 0x391 && code <= 0x3a9) return String.fromCodePoint(GREEK[variant] + code - 0x391);
    if (code >= 0x3b1 && code <= 0x3c9) return String.fromCodePoint(GREEK[variant] + 26 + code - 0x3b1);
    return ch;
  }

  // Words in \text{...} keep their letters; a class of ours sets the font (maths.css).
  const TEXT_CLASS = {
    "bold": "mv-bold", "italic": "mv-italic", "bold-italic": "mv-bold mv-italic",
    "monospace": "mv-mono", "sans-serif": "mv-sans", "bold-sans-serif": "mv-sans mv-bold",
    "sans-serif-italic": "mv-sans mv-italic", "sans-serif-bold-italic": "mv-sans mv-bold mv-italic",
  };

  function applyVariants(root) {
    for (const node of root.querySelectorAll("[mathvariant]")) {
      const variant = node.getAttribute("mathvariant");
      if (variant === "normal") continue;
      if (node.localName === "mtext") {
        if (TEXT_CLASS[variant]) node.setAttribute("class", TEXT_CLASS[variant]);
        continue;
      }
      if (node.localName !== "mi" && node.localName !== "mn" && node.localName !== "mo") continue;
      const text = [...node.textContent].map((ch) => styledGreek(styled(ch, variant), variant)).join("");
      if (text !== node.textContent) {
        node.textContent = text;
        node.setAttribute("mathvariant", "normal"); // the letter is styled: no automatic italic
      }
    }
  }

  const OPTIONS = {
    output: "mathml",
    throwOnError: true, // a formula KaTeX cannot read stays as its source
    strict: "ignore",
    maxSize: 20,
    maxExpand: 500,
    // A link inside a larger formula (a whole-formula \href is a plain link already, made by
    // the server): http(s) only. Firefox follows MathML links; Chromium shows the text.
    trust: (context) => (context.command === "\\href" || context.command === "\\url")
      && (context.protocol === "http" || context.protocol === "https"),
    // The two commands whose MathML carries a style attribute, which the policy would refuse.
    macros: { "\\pmb": "\\boldsymbol{#1}", "\\fcolorbox": "\\fbox{#3}", "\\mbox": "\\text{#1}" },
  };

  // What MathJax (arXiv's renderer) reads and KaTeX does not: \unicode{x2013} for a character,
  // and "%" as itself (a TeX comment makes no sense inside a one-line formula).
  function prepare(tex) {
    return tex
      .replace(/\\unicode\{(x[0-9a-fA-F]{1,6}|[0-9]{1,7})\}/g, (whole, code) => {
        const point = code[0] === "x" ? parseInt(code.slice(1), 16) : parseInt(code, 10);
        return point >= 0x20 && point <= 0x10ffff ? String.fromCodePoint(point) : whole;
      })
      .replace(/\\.|%/gs, (token) => (token === "%" ? "\\%" : token));
  }

  function delimiters(source) {
    for (const [open, close, display] of [["$$", "$$", true], ["\\[", "\\]", true], ["\\(", "\\)", false], ["$", "$", false]]) {
      if (source.startsWith(open) && source.endsWith(close) && source.length >= open.length + close.length) {
        return [source.slice(open.length, source.length - close.length), display];
      }
    }
    return [null, false];
  }

  function render(span) {
    const source = span.textContent;
    const [tex, display] = delimiters(source);
    if (tex === null) return;
    const target = document.createElement("span");
    try {
      window.katex.render(prepare(tex), target, { ...OPTIONS, displayMode: display && span.classList.contains("display") });
    } catch (error) {
      span.classList.add("maths-error");
      span.title = "Not rendered: " + error.message;
      return;
    }
    applyVariants(target);
    const math = target.querySelector("math");
    span.replaceChildren(math);
    span.classList.add("rendered");
    watchWidth(math, tex);
  }

  // A formula wider than its column scrolls inside it (maths.css); the keyboard must reach such a
  // box to scroll it: while it overflows it is in the tab order, named by its TeX source (as
  // arXiv's own HTML does with alttext). Re-checked whenever its width changes (a resize, a
  // rotated phone), so that a formula that fits is not a tab stop.
  const sources = new WeakMap();
  const resized = "ResizeObserver" in window
    ? new ResizeObserver((entries) => { for (const entry of entries) scrollable(entry.target); })
    : null;

  function scrollable(math) {
    const wide = math.scrollWidth > math.clientWidth + 1;
    if (wide && !math.hasAttribute("tabindex")) {
      math.setAttribute("tabindex", "0");
      math.setAttribute("aria-label", sources.get(math));
    } else if (!wide && math.hasAttribute("tabindex")) {
      math.removeAttribute("tabindex");
      math.removeAttribute("aria-label");
    }
  }

  function watchWidth(math, tex) {
    sources.set(math, tex.trim());
    if (resized) resized.observe(math);
    else scrollable(math);
  }

  // Every formula under root not yet rendered (window.paperwireMaths.render for content added later).
  function renderAll(root = document) {
    performance.mark("paperwire-maths-start");
    for (const span of root.querySelectorAll("span.maths:not(.rendered):not(.maths-error)")) render(span);
    performance.mark("paperwire-maths-end");
    performance.measure("paperwire-maths", "paperwire-maths-start", "paperwire-maths-end");
    document.documentElement.dataset.maths = "rendered";
  }

  const loaded = (element) => new Promise((resolve, reject) => {
    element.addEventListener("load", resolve);
    element.addEventListener("error", reject);
    document.head.append(element);
  });
  let loading = null;
  function load() {
    if (!loading) {
      const script = document.createElement("script");
      script.src = files.katex;
      const stylesheet = document.createElement("link");
      stylesheet.rel = "stylesheet";
      stylesheet.href = files.css;
      // Without KaTeX the sources stay; without the stylesheet the maths still shows.
      // Once KaTeX is there, render() works at once (the page's own formulas, then any added).
      loading = Promise.all([loaded(script), loaded(stylesheet).catch(() => {})]).then(() => {
        window.paperwireMaths.render = renderAll;
      });
    }
    return loading;
  }

  window.paperwireMaths = {
    render(root = document) {
      if (root.querySelector("span.maths")) load().then(() => renderAll(root), () => {});
    },
  };
  window.paperwireMaths.render();
})();
