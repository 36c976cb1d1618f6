// Small behaviour the pages need, kept out of inline handlers (the CSP allows scripts from
// this server only): a <select data-autosubmit> sends its form when changed.
document.addEventListener("change", function (event) {
  var target = event.target;
  if (target.matches && target.matches("select[data-autosubmit]") && target.form) {
    target.form.submit();
  }
});

// A header box <input data-check-all="TABLE"> ticks every row box of that table (the rows
// on this page) for the bulk decision.
document.addEventListener("change", function (event) {
  var target = event.target;
  if (!(target.matches && target.matches("input[data-check-all]"))) return;
  var table = document.getElementById(target.getAttribute("data-check-all"));
  if (!table) return;
  table.querySelectorAll("tbody input[type=checkbox][name=ids]").forEach(function (box) {
    box.checked = target.checked;
  });
});
