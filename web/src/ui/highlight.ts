/** "Show me the evidence": scroll to an element by id, focus it, and let its Panel outline itself briefly. */
import { useEffect, useState } from 'react';

const EVENT = 'qcl:highlight';
const HIGHLIGHT_MS = 2000;

export function highlight(id: string): void {
  const element = document.getElementById(id);
  if (!element) return;
  element.scrollIntoView({ behavior: 'smooth', block: 'center' });
  element.focus({ preventScroll: true });
  window.dispatchEvent(new CustomEvent<string>(EVENT, { detail: id }));
}

export function useHighlight(id: string | undefined): boolean {
  const [on, setOn] = useState(false);
  useEffect(() => {
    if (!id) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const listener = (event: Event) => {
      if ((event as CustomEvent<string>).detail !== id) return;
      setOn(true);
      clearTimeout(timer);
      timer = setTimeout(() => setOn(false), HIGHLIGHT_MS);
    };
    window.addEventListener(EVENT, listener);
    return () => {
      window.removeEventListener(EVENT, listener);
      clearTimeout(timer);
    };
  }, [id]);
  return on;
}
