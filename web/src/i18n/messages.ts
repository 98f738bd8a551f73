/** The message key type: the keys of the zh-TW table (the reference); every other table must have exactly these. */
import type { zhTW } from './zh-TW';

export type MessageKey = keyof typeof zhTW;
export type Messages = Record<MessageKey, string>;
