() => {
  // Projector mode by URL: ?projector
  if (new URLSearchParams(window.location.search).has('projector')) document.body.classList.add('projector');

  // Keys in a prompt: Enter runs its button (no newline added), Shift+Enter adds a newline,
  // Escape stops a generation. Gradio 6.31 has no shortcut API, and its multi-line Textbox
  // adds a newline on Enter (which the models never saw) and submits on Shift+Enter: this
  // listener runs first (capture) and keeps the key from the Textbox. While an input method
  // composes (Korean), Enter belongs to it.
  const ENTER = {'cm-prompt': 'cm-generate', 'cm-inside-prompt': 'cm-inside', 'cm-compare-prompt': 'cm-compare'};
  const ESCAPE = {'cm-prompt': 'cm-stop'};
  document.addEventListener('keydown', (event) => {
    const box = event.target;
    if (!(box instanceof HTMLTextAreaElement) || event.isComposing || event.keyCode === 229) return;
    const host = box.closest('#cm-prompt, #cm-inside-prompt, #cm-compare-prompt');
    if (!host) return;
    if (event.key === 'Enter' && !event.altKey && !event.ctrlKey && !event.metaKey) {
      event.preventDefault();
      event.stopImmediatePropagation();
      if (event.shiftKey) {
        // as typed: the Textbox hears an input event and the bars follow
        if (!document.execCommand('insertText', false, '\n')) {
          box.setRangeText('\n', box.selectionStart, box.selectionEnd, 'end');
          box.dispatchEvent(new Event('input', {bubbles: true}));
        }
      } else {
        document.getElementById(ENTER[host.id])?.click();
      }
    } else if (event.key === 'Escape' && ESCAPE[host.id]) {
      document.getElementById(ESCAPE[host.id])?.click();
    }
  }, true);
}
