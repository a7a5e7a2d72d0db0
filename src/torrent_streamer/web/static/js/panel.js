// The panel works without script; this only adds a confirmation before destructive actions.
for (const button of document.querySelectorAll("button.danger")) {
  button.addEventListener("click", (event) => {
    if (!window.confirm(`${button.textContent.trim()}: are you sure?`)) event.preventDefault();
  });
}
