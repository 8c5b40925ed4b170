// Progressive enhancement: votes without a page reload, a busy label on forms that wait for
// another site, BibTeX to the clipboard, a menu that closes with Escape.
// Everything works without this file; forms post and redirect as usual.
document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (!form.matches("form.vote")) return;
  event.preventDefault();
  const button = form.querySelector("button");
  button.disabled = true;
  try {
    // Not form.action: the form's input named "action" shadows that property.
    const response = await fetch(form.getAttribute("action"), {
      method: "POST",
      body: new FormData(form),
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    });
    if (response.status === 401) {
      window.location = "/accounts/login?next=" + encodeURIComponent(window.location.pathname + window.location.search);
      return;
    }
    if (!response.ok) throw new Error("HTTP " + response.status);
    const data = await response.json();
    form.querySelector(".count").textContent = data.upvotes;
    form.classList.toggle("voted", data.voted);
    form.querySelector("input[name=action]").value = data.voted ? "down" : "up";
    button.setAttribute("aria-pressed", String(data.voted));
  } catch (error) {
    form.submit();
  } finally {
    button.disabled = false;
  }
});

// A form with data-busy (submitting a paper waits up to a few seconds for arXiv) says so on
// its button while the answer comes, and is not sent twice.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (event.defaultPrevented || !form.dataset.busy) return;
  if (form.getAttribute("aria-busy") === "true") {
    event.preventDefault();
    return;
  }
  const button = form.querySelector("button[type=submit]");
  form.setAttribute("aria-busy", "true");
  if (button) {
    button.dataset.label = button.textContent;
    button.textContent = form.dataset.busy;
  }
});
// Back to a page from the history: its forms are as they were before they were sent.
window.addEventListener("pageshow", () => {
  for (const form of document.querySelectorAll("form[aria-busy=true]")) {
    form.removeAttribute("aria-busy");
    const button = form.querySelector("button[type=submit]");
    if (button && button.dataset.label) button.textContent = button.dataset.label;
  }
});

document.addEventListener("click", async (event) => {
  const button = event.target.closest("button.copy");
  if (!button) return;
  const text = document.querySelector(button.dataset.copy).textContent;
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = "Copied";
  } catch (error) {
    const range = document.createRange();
    range.selectNodeContents(document.querySelector(button.dataset.copy));
    window.getSelection().removeAllRanges();
    window.getSelection().addRange(range);
  }
});

// The menu (a <details>, which opens and closes without this file) also closes with Escape,
// giving the focus back to its button, and when a click lands outside it.
const menu = () => document.querySelector("details.site-menu[open]");
document.addEventListener("keydown", (event) => {
  const open = menu();
  if (event.key !== "Escape" || !open) return;
  open.open = false;
  open.querySelector("summary").focus();
});
document.addEventListener("click", (event) => {
  const open = menu();
  if (open && !open.contains(event.target)) open.open = false;
});
