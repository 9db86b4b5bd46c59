/* Section feedback: sends a comment form with fetch and stays on the page.
   Without this script the form posts as usual and the service redirects back.
   Page texts come from the form's data-fb-* attributes (translated at build time). */
(() => {
  "use strict";

  const uuid = () => {
    if (crypto.randomUUID) return crypto.randomUUID();
    // crypto.randomUUID needs a secure context; a version 4 UUID by hand otherwise.
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 15) | 64;
    bytes[8] = (bytes[8] & 63) | 128;
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join("-");
  };

  const say = (form, text) => {
    form.querySelector(".fb-status").textContent = text;
  };

  const message = (body) => body.error && body.error.message;

  const answer = (response) => response.json().catch(() => ({}));

  const clearErrors = (form) => {
    form.querySelectorAll(".fb-error").forEach((note) => note.remove());
    form.querySelectorAll("[aria-invalid]").forEach((field) => {
      field.removeAttribute("aria-invalid");
      field.removeAttribute("aria-describedby");
    });
  };

  // The message goes next to the field the service named, which points to it.
  const markError = (form, name, text) => {
    const found = form.elements[name];
    const fields = found instanceof RadioNodeList ? Array.from(found) : found ? [found] : [];
    if (!fields.length || fields[0].type === "hidden") return;
    const note = document.createElement("p");
    note.className = "fb-error";
    note.id = `${fields[0].id}-error`;
    note.textContent = text;
    fields[0].closest(".fb-field").append(note);
    fields.forEach((field) => {
      field.setAttribute("aria-invalid", "true");
      field.setAttribute("aria-describedby", note.id);
    });
    fields[0].focus();
  };

  const offerWithdrawal = (form, created) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "fb-withdraw";
    button.textContent = form.dataset.fbWithdraw;
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        const response = await fetch(`${form.action}/${encodeURIComponent(created.id)}`, {
          method: "DELETE",
          headers: { "X-Delete-Token": created.delete_token },
        });
        if (response.ok) {
          say(form, form.dataset.fbWithdrawn);
          button.remove();
          return;
        }
        say(form, message(await answer(response)) || form.dataset.fbUnwithdrawn);
      } catch {
        say(form, form.dataset.fbUnwithdrawn);
      }
      button.disabled = false;
    });
    form.querySelector(".fb-status").after(button);
  };

  const send = async (form) => {
    const data = Object.fromEntries(new FormData(form));
    data.consent = form.elements.consent.checked;
    const payload = JSON.stringify(data);
    // A retry of the same message reuses its key, so the service stores it once.
    if (form.fbPayload !== payload) {
      form.fbPayload = payload;
      form.fbKey = uuid();
    }
    clearErrors(form);
    form.querySelectorAll(".fb-withdraw").forEach((button) => button.remove());
    say(form, form.dataset.fbSending);
    let response;
    try {
      response = await fetch(form.action, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json", "Idempotency-Key": form.fbKey },
        body: payload,
      });
    } catch {
      say(form, form.dataset.fbOffline);
      return;
    }
    const body = await answer(response);
    if (response.ok) {
      form.elements.text.value = "";
      form.fbPayload = null;
      say(form, document.getElementById(`fb-ok-${data.section}`).textContent);
      if (body.id && body.delete_token) offerWithdrawal(form, body);
      return;
    }
    const text = message(body) || form.dataset.fbFailed.replace("%s", response.status);
    say(form, text);
    if (response.status === 422 && body.error && body.error.field) markError(form, body.error.field, text);
  };

  document.addEventListener("submit", async (event) => {
    const form = event.target;
    if (!form.classList.contains("fb-form")) return;
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    if (button.disabled) return;
    button.disabled = true;
    try {
      await send(form);
    } finally {
      button.disabled = false;
    }
  });
})();
