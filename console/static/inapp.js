// The in-app template preview's colours and corners. The server puts only hex colours (and a
// corner radius in px) in data attributes; they are applied here, through the CSSOM, because
// the console's CSP allows no inline style attribute. Checked again here all the same.
(() => {
  const HEX = /^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/;
  const paint = (root) => {
    root.querySelectorAll("[data-bg]").forEach((el) => {
      if (HEX.test(el.dataset.bg)) el.style.backgroundColor = el.dataset.bg;
    });
    root.querySelectorAll("[data-color]").forEach((el) => {
      if (HEX.test(el.dataset.color)) el.style.color = el.dataset.color;
    });
    root.querySelectorAll("[data-radius]").forEach((el) => {
      if (/^\d{1,2}$/.test(el.dataset.radius)) el.style.borderRadius = `${el.dataset.radius}px`;
    });
  };
  document.addEventListener("DOMContentLoaded", () => paint(document));
  document.addEventListener("htmx:afterSettle", (event) => paint(event.target));
})();
