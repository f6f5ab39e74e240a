// Every HTMX request carries the session's CSRF token from the page's meta tag (the server
// refuses changes without it). Plain forms carry it as a hidden field instead.
document.addEventListener("htmx:configRequest", (event) => {
  const meta = document.querySelector('meta[name="csrf-token"]');
  if (meta && meta.content) {
    event.detail.headers["X-CSRF-Token"] = meta.content;
  }
});
