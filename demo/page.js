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

  // ⏯ in the Inside tab: ▶ once a second until the step control reaches the prompt's last
  // character (from the last one, the server's answer to ⏯ goes back to the first one first);
  // ⏯ again, or a new tab, pauses. The step control's number box says where it is.
  let playing = null;
  const pause = () => { clearInterval(playing); playing = null; document.getElementById('cm-step-play')?.classList.remove('cm-playing'); };
  const stepAt = () => {
    const box = document.querySelector('#cm-inside-step input[type=number]');
    return box ? [Number(box.value), Number(box.max)] : [NaN, NaN];
  };
  document.addEventListener('click', (event) => {
    const play = event.target.closest?.('#cm-step-play');
    if (!play) { if (event.target.closest?.('[role=tab]')) pause(); return; }
    if (playing) { pause(); return; }
    play.classList.add('cm-playing');
    // from the last character the server goes back to the first: until that answer lands (a slow
    // server may take over a second), the step still reads "last" and must not stop the play
    const [from, end] = stepAt();
    let rewinding = end > 1 && from >= end ? 10 : 0;  // ticks to wait for it, at most
    playing = setInterval(() => {
      const [at, last] = stepAt();
      if (rewinding > 0 && at >= last) { rewinding -= 1; return; }
      rewinding = 0;
      if (!(at < last) || !document.getElementById('cm-step-next')?.checkVisibility?.()) { pause(); return; }
      document.getElementById('cm-step-next').click();
    }, 1000);
  });
}
