/** The Monaco JSON editor itself; loaded lazily by JsonViewer so the main bundle stays small. */
import Editor from '@monaco-editor/react';
import './monacoSetup';

export default function JsonEditor({
  value,
  readOnly,
  dark,
  label,
  onChange,
  height = '60vh',
}: {
  value: string;
  readOnly: boolean;
  dark: boolean;
  label: string;
  onChange?: (value: string) => void;
  height?: string;
}) {
  return (
    <Editor
      height={height}
      language="json"
      value={value}
      theme={dark ? 'vs-dark' : 'vs'}
      onChange={(next) => onChange?.(next ?? '')}
      options={{
        readOnly,
        ariaLabel: label,
        minimap: { enabled: false },
        scrollBeyondLastLine: false,
        wordWrap: 'on',
        automaticLayout: true,
        tabSize: 2,
        fontSize: 13,
      }}
    />
  );
}
