// A little help, never needed: the page works without JavaScript.
(function () {
  "use strict";
  // Filters apply as soon as a select or the checkbox changes.
  var filters = document.getElementById("filters");
  if (filters) {
    filters.querySelectorAll("select, input[type=checkbox]").forEach(function (field) {
      field.addEventListener("change", function () { filters.submit(); });
    });
  }
  // Auto-refresh every 60 s while the box is ticked (remembered in this browser).
  var box = document.getElementById("auto-refresh");
  if (box) {
    var key = "leadbridge.autoRefresh";
    box.checked = window.localStorage.getItem(key) === "1";
    box.addEventListener("change", function () {
      window.localStorage.setItem(key, box.checked ? "1" : "0");
      if (box.checked) { schedule(); }
    });
    var schedule = function () {
      window.setTimeout(function () {
        if (box.checked && !document.querySelector("input:focus, select:focus")) {
          window.location.reload();
        } else if (box.checked) {
          schedule();
        }
      }, 60000);
    };
    if (box.checked) { schedule(); }
  }
})();
