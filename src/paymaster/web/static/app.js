// Small behaviour the pages need, kept out of inline handlers (the CSP allows scripts from
// this server only): a <select data-autosubmit> sends its form when changed.
document.addEventListener("change", function (event) {
  var target = event.target;
  if (target.matches && target.matches("select[data-autosubmit]") && target.form) {
    target.form.submit();
  }
});
