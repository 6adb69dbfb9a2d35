"""A notice's counts as CSV for staff (Excel opens it as UTF-8): counts only, never a
number or a resident."""

from __future__ import annotations

import csv
import io
from typing import Any

ROWS = (
    ("recipients", "対象者"),
    ("queued", "送信待ち"),
    ("sent", "送信"),
    ("delivered", "配信済み"),
    ("read", "既読（+メッセージ）"),
    ("failed", "失敗"),
    ("held_quiet_hours", "夜間のため保留"),
    ("stopped_after", "24時間以内に配信停止"),
    ("segments_per_sms", "SMS 1通の分割数"),
    ("estimated_cost_yen", "概算費用（円）"),
)
SKIPPED = (
    ("stopped", "対象外: 配信停止"),
    ("weekly_cap", "対象外: 週の上限"),
    ("expired", "期限切れ"),
)


def counts_csv(report: dict[str, Any]) -> str:
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["notice", "item", "項目", "count"])
    for key, label in ROWS:
        writer.writerow([report["id"], key, label, report[key]])
    for key, label in SKIPPED:
        writer.writerow([report["id"], f"skipped.{key}", label, report["skipped"][key]])
    for choice, count in report["answers"].items():
        writer.writerow([report["id"], "answer", _cell(choice), count])
    return out.getvalue()


def _cell(text: str) -> str:
    """Never a formula when a spreadsheet opens it (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
