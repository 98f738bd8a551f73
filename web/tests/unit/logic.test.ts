/** @vitest-environment jsdom */
/** The small pure helpers of the pages: history search, node events, PBFT quorum, followed tasks, routes. */
import { describe, expect, it } from 'vitest';
import type { NodeView, Task, Topology } from '../../src/api/types';
import { askedInsight, filterInsights, insightKey, matchesQuery, mergeInsights, type InsightView } from '../../src/lib/history';
import { applyNodeView, layerCount, layerRange, sortNodes, unplaced, withNode } from '../../src/lib/nodes';
import { faultTolerance, quorum, votes } from '../../src/lib/oracle';
import { focusFromHash, hrefFor, pageFromHash } from '../../src/lib/route';
import { addTaskId, loadTaskIds, newerTask, saveTaskIds, TASKS_KEPT } from '../../src/lib/tasks';
import { recognitionLanguage, speechRecognition, transcriptOf } from '../../src/lib/speech';
import { sortFindings } from '../../src/lib/findings';
import type { Finding } from '../../src/api/types';

const insight = (text: string, question: string | null = null, id = `e-${text}`): InsightView => ({
  id,
  time: '2025-11-12T10:00:02Z',
  request_id: null,
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

  it('tells apart two insights with the same text by their event ids (a routine narrative repeats its text)', () => {
    expect(mergeInsights([insight('same', null, 'e1')], [insight('same', null, 'e2')])).toHaveLength(2);
  });

  it('takes an insight’s identity from its event id alone', () => {
    expect(insightKey(insight('one text', null, 'e7'))).toBe(insightKey({ ...insight('another', null, 'e7') }));
  });

  it('gives each answer asked on this page its own local id, with the question', () => {
    const answer = { ...insight('health 72'), id: undefined, time: undefined };
    const first = askedInsight(answer, '網路健康嗎？', new Date('2025-11-12T10:00:00Z'));
    const second = askedInsight(answer, '網路健康嗎？', new Date('2025-11-12T10:00:00Z'));
    expect(first.id).not.toBe(second.id);
    expect(first.id.startsWith('local:')).toBe(true);
    expect([first.question, first.time]).toEqual(['網路健康嗎？', '2025-11-12T10:00:00.000Z']);
  });
});

describe('node views', () => {
  const view = (node_id: string, role: NodeView['role'], state: NodeView['state']): NodeView => ({
    node_id,
    role,
    lifecycle: 'active',
    state,
    last_event: state === 'down' ? 'failed' : 'joined',
    last_seen: '2025-11-12T10:00:00Z',
    detail: '',
    shard: null,
    oracle: null,
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

describe('the shard pool’s layout', () => {
  const node = (node_id: string, state: NodeView['state']): NodeView => ({
    node_id,
    lifecycle: 'active',
    role: 'shard',
    state,
    last_event: state === 'up' ? 'joined' : 'failed',
    last_seen: '2025-11-12T10:00:00Z',
    detail: '',
    shard: null,
    oracle: null,
  });
  const topology: Topology = {
    shard_pool: {
      up: 3,
      total: 3,
      nodes: [node('s0a', 'up'), node('s0b', 'up'), node('s1', 'up')],
      stages: [
        { stage: 0, layers: [0, 15], nodes: ['s0a', 's0b'], up: 2 },
        { stage: 1, layers: [15, 30], nodes: ['s1'], up: 1 },
      ],
    },
    oracle_committee: { up: 0, total: 0, nodes: [], committee_id: null, f: null, quorum: null, sequence: null, view: null, primary: null },
  };

  it('counts a failed replica out of its stage and the pool', () => {
    const next = withNode(topology, node('s0b', 'down'));
    expect(next.shard_pool.stages.map((stage) => stage.up)).toEqual([1, 1]);
    expect([next.shard_pool.up, next.shard_pool.total]).toEqual([2, 3]);
  });

  it('counts a recovered node back in', () => {
    const next = withNode(withNode(topology, node('s1', 'down')), node('s1', 'up'));
    expect(next.shard_pool.stages[1]!.up).toBe(1);
  });

  it('leaves the committee alone when a shard changes', () => {
    expect(withNode(topology, node('s1', 'down')).oracle_committee).toBe(topology.oracle_committee);
  });

  it('spans the layers of every stage and names ranges as people count layers', () => {
    expect(layerCount(topology.shard_pool.stages)).toBe(30);
    expect([layerRange([0, 15]), layerRange([29, 30])]).toEqual(['0–14', '29']);
  });

  it('lists shards that no stage names apart', () => {
    const pool = { ...topology.shard_pool, nodes: [...topology.shard_pool.nodes, node('loose', 'up')] };
    expect(unplaced(pool).map((n) => n.node_id)).toEqual(['loose']);
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
    job: null,
    started_at: null,
    worker: null,
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
