/**
 * What the key in use (or the login URL's session) may do: GET /api/auth/whoami, asked once per key and only where
 * it matters. `useIsAdmin`
 * gates the editable JSON viewer; `useCanOperate` the buttons that change things (a viewer sees, an operator acts).
 */
import { useEffect, useState } from 'react';
import { api } from '../api/endpoints';
import type { Role } from '../api/types';
import { useSession } from './session';
import { useSettings } from './settings';

const SESSION = '(session cookie)'; // the answers' entry for a signed-in browser without a key

const answers = new Map<string, Promise<Role | null>>();

/** The key's role once known; null while asking, with no key, or when asking failed (treated as the least). */
export function useRole(): { role: Role | null; known: boolean } {
  const { apiKey } = useSettings();
  const { status } = useSession();
  const credential = apiKey ?? (status === 'signed-in' ? SESSION : null);
  const [state, setState] = useState<{ role: Role | null; known: boolean }>({ role: null, known: !credential });
  useEffect(() => {
    if (!credential) {
      setState({ role: null, known: status !== 'checking' });
      return;
    }
    let answer = answers.get(credential);
    if (!answer) {
      answer = api.whoami().then(
        (me) => me.role,
        () => null,
      );
      answers.set(credential, answer);
    }
    let current = true;
    setState({ role: null, known: false });
    void answer.then((role) => current && setState({ role, known: true }));
    return () => {
      current = false;
    };
  }, [credential, status]);
  return state;
}

/** true / false once known; null while asking. Any failure to ask reads as "not admin" (read-only). */
export function useIsAdmin(): boolean | null {
  const { role, known } = useRole();
  return known ? role === 'admin' : null;
}

/** true / false once known; null while asking: whether the key may submit, run and cancel (operator or admin). */
export function useCanOperate(): boolean | null {
  const { role, known } = useRole();
  return known ? role === 'operator' || role === 'admin' : null;
}

/** Forget the answers (tests start each case with a fresh key table). */
export function forgetRoles(): void {
  answers.clear();
}
