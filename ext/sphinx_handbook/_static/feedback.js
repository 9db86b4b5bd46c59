/* Section feedback: the comment, reply and rating forms sent with fetch, staying on the page;
   without this script they post as usual. Texts: data-fb-* attributes (form.py). */
(() => {
  "use strict";

  const OWN_KEY = "fb-own";

  const uuid = () => {
    if (crypto.randomUUID) return crypto.randomUUID();
    // crypto.randomUUID needs a secure context; a version 4 UUID by hand otherwise.
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 15) | 64;
    bytes[8] = (bytes[8] & 63) | 128;
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join("-");
  };

  const announce = (text) => {
    const live = document.getElementById("fb-live");
    if (!live) return;
    // Emptied first, so the same words twice are spoken twice.
    live.textContent = "";
    window.setTimeout(() => { live.textContent = text; }, 50);
  };

  const say = (form, text) => {
    form.querySelector(".fb-status").textContent = text;
    announce(text);
  };

  // The way back to one's own message: its id and delete token go into every confirmation's
  // status form and into sessionStorage (this tab only), never into a URL.
  const fillOwn = (own) => {
    document.querySelectorAll("form.fb-own").forEach((statusForm) => {
      statusForm.elements.id.value = own.id;
      statusForm.elements.token.value = own.token;
    });
  };

  const remember = (own) => {
    try {
      sessionStorage.setItem(OWN_KEY, JSON.stringify(own));
    } catch {
      // Storage may be off; the forms on this page are filled all the same.
    }
    fillOwn(own);
  };

  const remembered = () => {
    try {
      const own = JSON.parse(sessionStorage.getItem(OWN_KEY) || "null");
      if (own && typeof own.id === "string" && typeof own.token === "string") fillOwn(own);
    } catch {
      // Nothing stored, or storage is off.
    }
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
      const confirmation = document.getElementById(`fb-ok-${data.section}`);
      say(form, confirmation.querySelector("p").textContent);
      if (body.id && body.delete_token) {
        remember({ id: body.id, token: body.delete_token });
        confirmation.classList.add("fb-ok-shown");
        offerWithdrawal(form, body);
      }
      return;
    }
    const text = message(body) || form.dataset.fbFailed.replace("%s", response.status);
    say(form, text);
    if (response.status === 422 && body.error && body.error.field) markError(form, body.error.field, text);
  };

  // "War diese Seite hilfreich?": the chosen reason and the free text travel as one `reason`.
  const rate = async (form) => {
    const reasons = Array.from(form.querySelectorAll("[name=reason]"), (field) =>
      (field.type === "radio" && !field.checked ? "" : field.value.trim())).filter(Boolean);
    const helpful = form.elements.helpful.value;
    const data = {
      doc: form.elements.doc.value,
      version: form.elements.version.value,
      helpful,
      reason: helpful === "no" ? reasons.join(": ") : "",
    };
    say(form, form.dataset.fbSending);
    let response;
    try {
      response = await fetch(form.action, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(data),
      });
    } catch {
      say(form, form.dataset.fbOffline);
      return;
    }
    if (response.ok) {
      const thanks = form.parentElement.querySelector(".fb-rating-ok");
      thanks.classList.add("fb-ok-shown");
      form.hidden = true;
      announce(thanks.textContent);
      return;
    }
    say(form, message(await answer(response)) || form.dataset.fbFailed.replace("%s", response.status));
  };

  document.addEventListener("submit", async (event) => {
    const form = event.target;
    const handler = form.classList.contains("fb-form") ? send : form.classList.contains("fb-rating-form") ? rate : null;
    if (!handler) return;
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    if (button.disabled) return;
    button.disabled = true;
    try {
      await handler(form);
    } finally {
      button.disabled = false;
    }
  });

  remembered();
})();
