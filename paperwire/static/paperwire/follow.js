// Progressive enhancement of follow buttons (templates/people/_follow.html): the form is sent
// in the background and the button changes in place. Without this file the form posts and the
// server redirects back to the page.
document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (!form.matches("form.follow")) return;
  event.preventDefault();
  // Not disabled while it waits: a disabled button loses the keyboard's focus.
  if (form.getAttribute("aria-busy") === "true") return;
  const button = form.querySelector("button");
  const status = form.querySelector(".follow-status");
  const action = form.querySelector("input[name=action]");
  form.setAttribute("aria-busy", "true");
  try {
    const response = await fetch(form.getAttribute("action"), {
      method: "POST",
      body: new FormData(form),
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    });
    if (response.status === 401) {
      window.location = "/accounts/login?next=" + encodeURIComponent(window.location.pathname);
      return;
    }
    if (!response.ok) throw new Error("HTTP " + response.status);
    const data = await response.json();
    const name = button.dataset.name;
    form.classList.toggle("following", data.following);
    action.value = data.following ? "unfollow" : "follow";
    button.setAttribute("aria-pressed", String(data.following));
    button.firstChild.textContent = data.following ? "Following" : "Follow";
    if (data.following) button.title = "You follow " + name + ": press to stop following";
    else button.removeAttribute("title");
    if (status) status.textContent = data.following ? "You follow " + name + "." : "You no longer follow " + name + ".";
  } catch (error) {
    form.submit();
  } finally {
    form.removeAttribute("aria-busy");
  }
});
