"""Network analysis: pure functions from a window of observations to a report with a health score and findings.

Layout: timeline.py (the window as numbers and shared derived quantities), rules_network.py / rules_quality.py /
rules_market.py (one function per finding code), score.py (the health score rule), engine.py (analyze_window,
check_consistency, invalid_report), capture_analysis.py (a whole capture, findings raised at onset).
"""

from qcl.analysis.capture_analysis import CaptureAnalysis, analyze_capture
from qcl.analysis.engine import analyze_window, check_consistency, invalid_report
from qcl.analysis.report import AnalysisReport, Finding, FindingCode, NetworkMetrics
from qcl.analysis.score import health_score, status_for

__all__ = [
    "AnalysisReport",
    "CaptureAnalysis",
    "Finding",
    "FindingCode",
    "NetworkMetrics",
    "analyze_capture",
    "analyze_window",
    "check_consistency",
    "health_score",
    "invalid_report",
    "status_for",
]
