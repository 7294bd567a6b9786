/* What Oscar's templates did with inline onclick handlers, which the Content-Security-Policy refuses to run:
   data-p6-action="print" prints the page, data-p6-action="back" goes back a page, "close" closes a popup. */
document.addEventListener("click", function (event) {
    var target = event.target.closest("[data-p6-action]");
    if (!target) {
        return;
    }
    event.preventDefault();
    if (target.getAttribute("data-p6-action") === "print") {
        window.print();
    } else if (target.getAttribute("data-p6-action") === "back") {
        window.history.go(-1);
    } else if (target.getAttribute("data-p6-action") === "close") {
        window.close();
    }
});
