/** @vitest-environment jsdom */
import { describe, expect, it } from 'vitest';
import { isEditable, SHORTCUTS, shortcutFor, type KeyInput } from '../../src/lib/shortcuts';

function key(k: string, target: EventTarget | null = document.body, modifiers: Partial<KeyInput> = {}): KeyInput {
  return { key: k, ctrlKey: false, metaKey: false, altKey: false, target, ...modifiers };
}

describe('shortcutFor', () => {
  it('opens the help overlay on ?', () => {
    expect(shortcutFor(key('?'))).toEqual({ type: 'help' });
  });

  it('goes to the nth page on its number', () => {
    expect(shortcutFor(key('2'))).toEqual({ type: 'navigate', page: 'ask' });
    expect(shortcutFor(key('8'))).toEqual({ type: 'navigate', page: 'alerts' });
    expect(shortcutFor(key('9'))).toEqual({ type: 'navigate', page: 'logs' });
    expect(shortcutFor(key('0'))).toEqual({ type: 'navigate', page: 'settings' });
  });

  it('ignores keys typed into a text field', () => {
    expect(shortcutFor(key('t', document.createElement('input')))).toBeNull();
    expect(shortcutFor(key('?', document.createElement('textarea')))).toBeNull();
  });

  it('ignores keys with Ctrl, Alt or Meta (the browser’s own shortcuts)', () => {
    expect(shortcutFor(key('r', document.body, { ctrlKey: true }))).toBeNull();
    expect(shortcutFor(key('l', document.body, { altKey: true }))).toBeNull();
    expect(shortcutFor(key('1', document.body, { metaKey: true }))).toBeNull();
  });

  it('accepts a capital letter (Caps Lock)', () => {
    expect(shortcutFor(key('T'))).toEqual({ type: 'toggleTheme' });
  });

  it('has nothing for other keys', () => {
    expect(shortcutFor(key('x'))).toBeNull();
  });

  it('binds each key once', () => {
    const keys = SHORTCUTS.map((shortcut) => shortcut.key);
    expect(new Set(keys).size).toBe(keys.length);
  });
});

describe('isEditable', () => {
  it('treats a checkbox as not editable', () => {
    const box = document.createElement('input');
    box.type = 'checkbox';
    expect(isEditable(box)).toBe(false);
  });

  it('treats a contenteditable element as editable', () => {
    const div = document.createElement('div');
    div.contentEditable = 'true';
    // jsdom does not compute isContentEditable; the browser does
    Object.defineProperty(div, 'isContentEditable', { value: true });
    expect(isEditable(div)).toBe(true);
  });

  it('treats text inside the Monaco editor as editable', () => {
    const editor = document.createElement('div');
    editor.className = 'monaco-editor';
    const line = document.createElement('div');
    editor.appendChild(line);
    expect(isEditable(line)).toBe(true);
  });
});
