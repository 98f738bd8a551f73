import { FormControl, FormHelperText, InputLabel, MenuItem, Select } from '@mui/material';

interface Props<T extends string> {
  /** Base of the label's id (`<id>-label`), which names the select for assistive technology. */
  id: string;
  label: string;
  value: T;
  options: readonly T[];
  optionLabel: (option: T) => string;
  onChange: (value: T) => void;
  minWidth?: number;
  testId?: string;
  helperText?: string;
  /** Options are language codes: each option carries its `lang`, so screen readers pronounce it right. */
  languageOptions?: boolean;
}

/** A small Material UI select with its floating label: the one shape every form on the dashboard uses. */
export function LabeledSelect<T extends string>(props: Props<T>) {
  const { id, label, value, options, optionLabel, onChange, minWidth, testId, helperText, languageOptions } = props;
  return (
    <FormControl size="small" sx={minWidth ? { minWidth } : undefined}>
      <InputLabel id={`${id}-label`}>{label}</InputLabel>
      <Select
        labelId={`${id}-label`}
        label={label}
        value={value}
        onChange={(event) => onChange(event.target.value as T)}
        data-testid={testId}
      >
        {options.map((option) => (
          <MenuItem key={option} value={option} lang={languageOptions ? option : undefined}>
            {optionLabel(option)}
          </MenuItem>
        ))}
      </Select>
      {helperText && <FormHelperText>{helperText}</FormHelperText>}
    </FormControl>
  );
}
