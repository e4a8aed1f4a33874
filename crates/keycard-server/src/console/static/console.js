// Keycard console: conveniences only; every page works without this file.
// A condition is checked by the server as it is typed (the same check a write makes).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  for (const field of document.querySelectorAll("textarea[data-check-condition]")) {
    const status = document.getElementById(field.dataset.checkCondition);
    const form = field.closest("form");
    let timer = null;
    const check = async () => {
      const body = new URLSearchParams({
        csrf: form.querySelector("input[name=csrf]").value,
        condition: field.value,
      });
      try {
        const response = await fetch("/console/conditions/check", {
          method: "POST",
          body,
          credentials: "same-origin",
        });
        const answer = await response.json();
        status.textContent = answer.message;
        status.className = answer.ok ? "status-ok" : "status-bad";
        field.setAttribute("aria-invalid", answer.ok ? "false" : "true");
      } catch (_) {
        status.textContent = "";
      }
    };
    field.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(check, 300);
    });
  }
});
