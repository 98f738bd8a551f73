/** @vitest-environment jsdom */
/** The small pure helpers of the pages: history search, node events, PBFT quorum, followed tasks, routes. */
import { describe, expect, it } from 'vitest';
import type { NodeView, Task } from '../../src/api/types';
import { filterInsights, insightKey, matchesQuery, mergeInsights, type InsightView } from '../../src/lib/history';
import { applyNodeView, sortNodes } from '../../src/lib/nodes';
import { faultTolerance, quorum, votes } from '../../src/lib/oracle';
import { focusFromHash, hrefFor, pageFromHash } from '../../src/lib/route';
import { addTaskId, loadTaskIds, newerTask, saveTaskIds, TASKS_KEPT } from '../../src/lib/tasks';
import { recognitionLanguage, speechRecognition, transcriptOf } from '../../src/lib/speech';
import { sortFindings } from '../../src/lib/findings';
import type { Finding } from '../../src/api/types';

const insight = (text: string, question: string | null = null, request_id: string | null = null): InsightView => ({
  request_id,
  text,
  question,
  kind: 'answer',
  language: 'zh-TW',
  model: 'm',
  grounded: true,
  fallback_used: false,
  fallback_reason: null,
  grounding_issues: [],
  confidence: 0.5,
  sources: ['price_trend'],
  latency_ms: 1,
  report_observed_at: '2025-11-12T10:00:00Z',
});

describe('history search', () => {
  const item = insight('價格一小時持平', '價格趨勢？');

  it('matches every word of the query, in any order', () => {
    expect(matchesQuery(item, '持平 價格')).toBe(true);
  });

  it('fails when one word is missing', () => {
    expect(matchesQuery(item, '價格 暴跌')).toBe(false);
  });

  it('searches the sources too, ignoring case', () => {
    expect(matchesQuery(item, 'PRICE_TREND')).toBe(true);
  });

  it('keeps everything for an empty query', () => {
    expect(filterInsights([item], '   ')).toHaveLength(1);
  });
});

describe('mergeInsights', () => {
  it('puts fresh insights first and keeps one entry per insight', () => {
    const merged = mergeInsights([insight('new')], [insight('old'), insight('new')]);
    expect(merged.map((entry) => entry.text)).toEqual(['new', 'old']);
  });

  it('keeps the question asked in this browser when the same answer comes back from the API without it', () => {
    const merged = mergeInsights([insight('answer')], [insight('answer', '網路健康嗎？')]);
    expect(merged).toHaveLength(1);
    expect(merged[0]!.question).toBe('網路健康嗎？');
  });

  it('tells apart answers to different requests with the same text', () => {
    expect(insightKey(insight('same', null, 'r1'))).not.toBe(insightKey(insight('same', null, 'r2')));
  });
});

describe('node views', () => {
  const view = (node_id: string, role: NodeView['role'], state: NodeView['state']): NodeView => ({
    node_id,
    role,
    state,
    last_event: state === 'down' ? 'failed' : 'joined',
    last_seen: '2025-11-12T10:00:00Z',
    detail: '',
  });

  it('replaces a known node with its new view', () => {
    const next = applyNodeView([view('shard-1', 'shard', 'up')], view('shard-1', 'shard', 'down'));
    expect(next).toEqual([view('shard-1', 'shard', 'down')]);
  });

  it('adds a node it has not seen', () => {
    const next = applyNodeView([view('shard-1', 'shard', 'up')], view('oracle-0', 'oracle', 'up'));
    expect(next.map((node) => node.node_id)).toEqual(['shard-1', 'oracle-0']);
  });

  it('sorts shards before oracle members, each by id', () => {
    const sorted = sortNodes([view('oracle-0', 'oracle', 'up'), view('shard-b', 'shard', 'up'), view('shard-a', 'shard', 'up')]);
    expect(sorted.map((node) => node.node_id)).toEqual(['shard-a', 'shard-b', 'oracle-0']);
  });
});

describe('PBFT quorum', () => {
  it('tolerates one fault with four members and needs three votes', () => {
    expect(faultTolerance(4)).toBe(1);
    expect(quorum(4)).toBe(3);
  });

  it('needs five votes of seven', () => {
    expect(quorum(7)).toBe(5);
  });

  it('counts a member that signed twice once', () => {
    expect(votes(['a', 'a', 'b'], 4)).toEqual({ count: 2, needed: 3, enough: false });
  });
});

describe('followed tasks', () => {
  const task = (state: Task['state'], updated_at: string): Task => ({
    id: 't1',
    kind: 'narration',
    state,
    created_at: '2025-11-12T10:00:00Z',
    updated_at,
    submitted_by: 'k1',
    request: { kind: 'narration' },
    result: null,
    error: null,
  });

  it('keeps a finished state against an older running one arriving late', () => {
    expect(newerTask(task('done', '2025-11-12T10:00:02Z'), task('running', '2025-11-12T10:00:03Z')).state).toBe('done');
  });

  it('takes the newer of two states', () => {
    expect(newerTask(task('queued', '2025-11-12T10:00:01Z'), task('running', '2025-11-12T10:00:02Z')).state).toBe('running');
  });

  it('puts a new id first and never twice', () => {
    expect(addTaskId(['a', 'b'], 'b')).toEqual(['b', 'a']);
  });

  it('keeps a bounded number of ids', () => {
    const many = Array.from({ length: TASKS_KEPT + 5 }, (_, i) => `t${i}`);
    saveTaskIds(many);
    expect(loadTaskIds()).toHaveLength(TASKS_KEPT);
  });

  it('survives garbage in storage', () => {
    localStorage.setItem('qcl.tasks', '{not json');
    expect(loadTaskIds()).toEqual([]);
  });
});

describe('routes', () => {
  it('reads the page from the hash', () => {
    expect(pageFromHash('#/nodes')).toBe('nodes');
  });

  it('falls back to the overview for an unknown or empty hash', () => {
    expect(pageFromHash('#/nope')).toBe('overview');
    expect(pageFromHash('')).toBe('overview');
  });

  it('carries an element to focus', () => {
    expect(hrefFor('overview', 'chart-price')).toBe('#/overview?focus=chart-price');
    expect(pageFromHash('#/overview?focus=chart-price')).toBe('overview');
    expect(focusFromHash('#/overview?focus=chart-price')).toBe('chart-price');
  });
});

describe('voice input', () => {
  it('is unavailable where the browser has no SpeechRecognition', () => {
    expect(speechRecognition({})).toBeNull();
  });

  it("uses Chrome's prefixed recogniser", () => {
    class Fake {}
    expect(speechRecognition({ webkitSpeechRecognition: Fake })).toBe(Fake);
  });

  it('asks for Taiwanese Mandarin or US English', () => {
    expect(recognitionLanguage('zh-TW')).toBe('zh-TW');
    expect(recognitionLanguage('en')).toBe('en-US');
  });

  it('joins the results into one transcript', () => {
    const results = [Object.assign([{ transcript: '網路' }], { isFinal: true }), Object.assign([{ transcript: '健康嗎' }], { isFinal: false })];
    expect(transcriptOf({ results })).toBe('網路健康嗎');
  });
});

describe('sortFindings', () => {
  const finding = (severity: Finding['severity'], observed_at: string): Finding => ({
    code: 'tick_stall',
    severity,
    observed_at,
    tick: null,
    metric: 'm',
    value: null,
    threshold: null,
    message_en: '',
    message_zh: '',
    evidence: {},
  });

  it('puts critical first, then newest first within a severity', () => {
    const sorted = sortFindings([
      finding('info', '2025-11-12T10:00:00Z'),
      finding('warning', '2025-11-12T09:00:00Z'),
      finding('critical', '2025-11-12T08:00:00Z'),
      finding('warning', '2025-11-12T09:30:00Z'),
    ]);
    expect(sorted.map((f) => `${f.severity}@${f.observed_at.slice(11, 16)}`)).toEqual([
      'critical@08:00',
      'warning@09:30',
      'warning@09:00',
      'info@10:00',
    ]);
  });
});
