/** Ordering and wording of findings for the anomaly list. */
import type { Finding, Language } from '../api/types';

const RANK: Record<Finding['severity'], number> = { critical: 2, warning: 1, info: 0 };

/** Most severe first; within a severity, newest first. */
export function sortFindings(findings: readonly Finding[]): Finding[] {
  return [...findings].sort(
    (a, b) => RANK[b.severity] - RANK[a.severity] || Date.parse(b.observed_at) - Date.parse(a.observed_at),
  );
}

/** The analyzer writes every finding in both languages (report.py message_en / message_zh). */
export function findingMessage(finding: Finding, language: Language): string {
  return language === 'zh-TW' ? finding.message_zh : finding.message_en;
}
