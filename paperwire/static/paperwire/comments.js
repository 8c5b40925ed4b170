// The discussion under a paper, in place: posting a comment or a reply, editing and deleting
// one's own, without a page load. Every form works without this file (it posts, and the server
// redirects back to the comment or shows the error beside the form; replying and editing have
// pages of their own); this file sends the same forms asking for JSON (paperwire/web/discussions.py)
// and puts the answer where it belongs: the comment's HTML as the page would show it, or the error
// beside the form, the text kept. Upvotes are paperwire.js's (every form.vote). Reports go to
// their own page.
(() => {
  "use strict";
  const discussion = document.getElementById("discussion");
  if (!discussion) return;

  function fragment(html) {
    const template = document.createElement("template");
    template.innerHTML = html;
    return template.content;
  }

  function rendered(element) {
    if (window.paperwireMaths) window.paperwireMaths.render(element);
  }

  async function send(form, action) {
    const response = await fetch(action || form.getAttribute("action"), {
      method: "POST",
      body: new FormData(form),
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    });
    if (response.status === 401) {
      window.location = "/accounts/login?next=" + encodeURIComponent(window.location.pathname);
      return null;
    }
    let data = null;
    try {
      data = await response.json();
    } catch (error) {
      throw new Error("HTTP " + response.status); // not our JSON: let the form post as usual
    }
    return { ok: response.ok, data };
  }

  // The error beside the form's text, tied to it, as the server shows it; none when message is "".
  function showError(form, message) {
    const field = form.querySelector(".field") || form;
    const textarea = form.querySelector("textarea");
    const id = (textarea ? textarea.id : "comment") + "_error";
    let error = form.querySelector("p.errorlist");
    if (!message) {
      if (error) error.remove();
      field.classList.remove("invalid");
      if (textarea) {
        textarea.removeAttribute("aria-invalid");
        textarea.setAttribute("aria-describedby", textarea.getAttribute("aria-describedby").replace(id + " ", ""));
      }
      return;
    }
    if (!error) {
      error = document.createElement("p");
      error.className = "errorlist";
      error.id = id;
      error.setAttribute("role", "alert");
      const help = field.querySelector(".helptext");
      if (help) help.before(error);
      else field.append(error);
    }
    error.textContent = message;
    field.classList.add("invalid");
    if (textarea) {
      textarea.setAttribute("aria-invalid", "true");
      const described = textarea.getAttribute("aria-describedby") || "";
      if (!described.includes(id)) textarea.setAttribute("aria-describedby", (id + " " + described).trim());
      textarea.focus();
    }
  }

  function setCount(count) {
    const heading = document.getElementById("discussion-heading");
    if (!heading) return;
    let number = heading.querySelector(".muted");
    if (!count) {
      if (number) number.remove();
      return;
    }
    if (!number) {
      number = document.createElement("span");
      number.className = "muted";
      heading.append(" ", number);
    }
    number.textContent = "(" + count.toLocaleString("en-US") + ")";
  }

  function busy(form, on) {
    form.setAttribute("aria-busy", String(on));
    for (const button of form.querySelectorAll("button")) button.disabled = on;
  }

  // A comment or a reply.
  async function post(form) {
    const answer = await send(form);
    if (!answer) return;
    if (!answer.ok) {
      showError(form, answer.data.error);
      return;
    }
    showError(form, "");
    const data = answer.data;
    let added;
    const thread = form.closest("li.thread");
    if (thread) {
      let replies = thread.querySelector("ol.replies");
      if (!replies) {
        replies = document.createElement("ol");
        replies.className = "replies";
        form.before(replies);
      }
      const item = document.createElement("li");
      item.append(fragment(data.html));
      replies.append(item);
      added = item;
      form.remove();
    } else {
      let threads = discussion.querySelector("ol.threads");
      if (!threads) {
        threads = document.createElement("ol");
        threads.className = "threads";
        const empty = discussion.querySelector(".empty-discussion");
        if (empty) empty.replaceWith(threads);
        else form.before(threads);
      }
      threads.append(fragment(data.thread));
      added = threads.lastElementChild;
    }
    if (!thread) form.reset();
    setCount(data.count);
    rendered(added);
    const comment = added.querySelector("article.comment");
    comment.setAttribute("tabindex", "-1");
    comment.focus();
  }

  // Deleting: the comment becomes its stub, or leaves the page.
  async function remove(form) {
    const article = form.closest("article.comment");
    const answer = await send(form);
    if (!answer) return;
    if (!answer.ok) {
      showError(form, answer.data.error);
      return;
    }
    setCount(answer.data.count);
    if (answer.data.html) {
      article.replaceWith(fragment(answer.data.html));
      return;
    }
    const item = article.closest("li");
    const thread = article.closest("li.thread");
    const replies = item.parentElement;
    const focusAfter = thread.nextElementSibling || discussion;
    if (item === thread) thread.remove();
    else {
      item.remove();
      // A stub above no reply any more leaves with its last reply.
      if (!replies.children.length) {
        replies.remove();
        if (thread.querySelector("article.comment-stub")) thread.remove();
      }
    }
    focusAfter.setAttribute("tabindex", "-1");
    focusAfter.focus();
  }

  // Editing in place: the text comes from the edit page (the one that works without this file).
  async function openEditor(link) {
    const article = link.closest("article.comment");
    if (article.querySelector("form.comment-editor")) return;
    const page = await fetch(link.href, { credentials: "same-origin" });
    if (!page.ok) {
      window.location = link.href;
      return;
    }
    const source = new DOMParser().parseFromString(await page.text(), "text/html");
    const sent = source.querySelector("form.comment-form");
    if (!sent) {
      window.location = link.href; // no longer editable: the page says why
      return;
    }
    const form = document.importNode(sent, true);
    form.classList.add("comment-editor");
    form.setAttribute("action", link.getAttribute("href"));
    const cancel = form.querySelector(".form-actions a");
    cancel.setAttribute("role", "button");
    cancel.addEventListener("click", (event) => {
      event.preventDefault();
      close(article, form);
    });
    const body = article.querySelector(".comment-body");
    body.hidden = true;
    article.querySelector(".comment-actions").hidden = true;
    body.after(form);
    const textarea = form.querySelector("textarea");
    textarea.focus();
    textarea.setSelectionRange(textarea.value.length, textarea.value.length);
  }

  function close(article, form) {
    form.remove();
    article.querySelector(".comment-body").hidden = false;
    article.querySelector(".comment-actions").hidden = false;
    article.querySelector("a.comment-edit").focus();
  }

  async function save(form) {
    const article = form.closest("article.comment");
    const answer = await send(form);
    if (!answer) return;
    if (!answer.ok) {
      showError(form, answer.data.error);
      return;
    }
    const replacement = fragment(answer.data.html).firstElementChild;
    article.replaceWith(replacement);
    rendered(replacement);
    const edit = replacement.querySelector("a.comment-edit");
    (edit || replacement).focus();
  }

  // Replying in place: the form of a new comment, under the thread, sent to the reply's address.
  function openReply(link) {
    const thread = link.closest("li.thread");
    const open = thread.querySelector("form.comment-replier");
    if (open) {
      open.querySelector("textarea").focus();
      return;
    }
    const model = discussion.querySelector("form.comment-form:not(.comment-replier):not(.comment-editor)");
    const form = model.cloneNode(true);
    form.reset();
    form.classList.add("comment-replier");
    form.setAttribute("action", link.getAttribute("href"));
    const id = "reply-" + link.closest("article.comment").id.replace("comment-", "");
    const textarea = form.querySelector("textarea");
    textarea.textContent = "";
    textarea.id = id;
    form.querySelector("label").setAttribute("for", id);
    form.querySelector("label").textContent = "Your reply";
    form.querySelector(".helptext").id = id + "_helptext";
    textarea.setAttribute("aria-describedby", id + "_helptext");
    textarea.removeAttribute("aria-invalid");
    const error = form.querySelector("p.errorlist");
    if (error) error.remove();
    form.querySelector(".field").classList.remove("invalid");
    form.querySelector("button[type=submit]").textContent = "Reply";
    const cancel = document.createElement("button");
    cancel.type = "button";
    cancel.className = "link";
    cancel.textContent = "Cancel";
    cancel.addEventListener("click", () => {
      form.remove();
      link.focus();
    });
    form.querySelector(".form-actions").append(" ", cancel);
    thread.append(form);
    textarea.focus();
  }

  discussion.addEventListener("submit", async (event) => {
    const form = event.target;
    let work = null;
    if (form.matches("form.comment-editor")) work = save;
    else if (form.matches("form.comment-form")) work = post;
    else if (form.closest("details.comment-delete")) work = remove;
    if (!work) return;
    event.preventDefault();
    if (form.getAttribute("aria-busy") === "true") return;
    busy(form, true);
    try {
      await work(form);
    } catch (error) {
      form.submit(); // the network or the server failed: the form posts as it would without this file
    } finally {
      busy(form, false);
    }
  });

  discussion.addEventListener("click", (event) => {
    const link = event.target.closest("a.comment-edit, a.comment-reply");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey) return;
    if (link.matches("a.comment-reply")) {
      if (!discussion.querySelector("form.comment-form")) return; // no form to copy: the reply page
      event.preventDefault();
      openReply(link);
      return;
    }
    event.preventDefault();
    openEditor(link).catch(() => {
      window.location = link.href;
    });
  });
})();
