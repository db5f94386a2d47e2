// The emailed password link carries its token after '#': browsers never send that part
// to the server, so it stays out of access logs. Move it into the form, and out of the
// address bar and history.
(function () {
  "use strict";
  var field = document.getElementById("token");
  if (!field) return;
  var token = window.location.hash.slice(1);
  if (token) {
    field.value = decodeURIComponent(token);
    window.history.replaceState(null, "", window.location.pathname + window.location.search);
  }
  if (field.value) {
    var wrapper = field.closest(".field");
    if (wrapper) wrapper.style.display = "none"; // .field sets its own display
  }
})();
