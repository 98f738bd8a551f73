/** The jobs this browser submitted: their ids kept in localStorage (newest first), their states merged as they come. */
import type { Task } from '../api/types';

const STORAGE = 'qcl.tasks';
export const TASKS_KEPT = 50;

export function isTerminal(task: Pick<Task, 'state'>): boolean {
  return task.state === 'done' || task.state === 'failed';
}

export function loadTaskIds(): string[] {
  try {
    const parsed: unknown = JSON.parse(localStorage.getItem(STORAGE) ?? '[]');
    return Array.isArray(parsed) ? parsed.filter((id): id is string => typeof id === 'string').slice(0, TASKS_KEPT) : [];
  } catch {
    return [];
  }
}

export function saveTaskIds(ids: readonly string[]): void {
  try {
    localStorage.setItem(STORAGE, JSON.stringify(ids.slice(0, TASKS_KEPT)));
  } catch {
    // storage blocked: the list lasts for this page only
  }
}

export function addTaskId(ids: readonly string[], id: string): string[] {
  return [id, ...ids.filter((known) => known !== id)].slice(0, TASKS_KEPT);
}

/** Keep the newer of two states of one task (an older poll answer must not undo a newer live update). */
export function newerTask(current: Task | undefined, next: Task): Task {
  if (!current) return next;
  if (isTerminal(current) && !isTerminal(next)) return current;
  return Date.parse(next.updated_at) >= Date.parse(current.updated_at) ? next : current;
}
