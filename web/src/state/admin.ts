/**
 * Whether the key in use is an admin's (for the editable JSON viewer): GET /api/auth/whoami, asked once per key
 * and only where it matters.
 */
import { useEffect, useState } from 'react';
import { api } from '../api/endpoints';
import { useSettings } from './settings';

const answers = new Map<string, Promise<boolean>>();

/** true / false once known; null while asking. Any failure to ask reads as "not admin" (read-only). */
export function useIsAdmin(): boolean | null {
  const { apiKey } = useSettings();
  const [admin, setAdmin] = useState<boolean | null>(apiKey ? null : false);
  useEffect(() => {
    if (!apiKey) {
      setAdmin(false);
      return;
    }
    let answer = answers.get(apiKey);
    if (!answer) {
      answer = api.whoami().then(
        (me) => me.role === 'admin',
        () => false,
      );
      answers.set(apiKey, answer);
    }
    let current = true;
    setAdmin(null);
    void answer.then((value) => current && setAdmin(value));
    return () => {
      current = false;
    };
  }, [apiKey]);
  return admin;
}
