"""Short texts the pipeline itself sends (not a flow): staff edit flows/system.yaml."""

from __future__ import annotations

from pathlib import Path
from string import Template

import yaml

from bot.errors import ConfigError

DEFAULTS = {
    "redacted": "個人番号やカード番号のような数字は、安全のため保存していません。"
    "SMSでは送らないでください。",
    "truncated": "メッセージが長いため、最初の${limit}文字だけを受け付けました。",
    "error": "申し訳ありません。うまく処理できませんでした。"
    "もう一度お送りいただくか、「担当者」と送ってください。",
    "error_restart": "申し訳ありません。続けてうまく処理できなかったため、手続きを最初に"
    "戻しました。ご用件をもう一度お送りいただくか、「担当者」と送ってください。",
    "empty": "メッセージが空でした。ご用件を文字でお送りください。",
    "flood": "短い間にたくさんのメッセージが届いたため、しばらくお返事を控えます。"
    "しばらくしてから、もう一度お送りください。",
    "handoff_ended": "担当者への引き継ぎを取りやめました。ご用件があれば、このままお送りください。",
    "handoff_expired": "担当者への引き継ぎを終了しました。ご用件があれば、このままお送りください。",
    "handoff_closed": "本日の受付時間が終わりました。いただいたメッセージは、"
    "担当者が${back}以降に確認します。それまでは、このままボットをご利用いただけます。",
    "handoff_returned": "担当者との会話を終了しました。ご用件があれば、このままボットにお送りください。",
    "handoff_help": "ただいま担当者におつなぎしています。ボットに戻るには「やめる」と送ってください。",
}


class SystemTexts:
    def __init__(self, texts: dict[str, str]) -> None:
        self._texts = texts

    @classmethod
    def load(cls, flows_dir: Path) -> SystemTexts:
        path = flows_dir / "system.yaml"
        texts = dict(DEFAULTS)
        if path.exists():
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            if not isinstance(data, dict):
                raise ConfigError(f"{path}:1: expected a mapping of text ids to texts")
            for key, value in data.items():
                if key not in DEFAULTS:
                    raise ConfigError(
                        f"{path}: unknown text id {key!r} (known: {sorted(DEFAULTS)})"
                    )
                if not isinstance(value, str) or not value.strip():
                    raise ConfigError(f"{path}: {key} must be a non-empty text")
                texts[key] = value.strip()
        return cls(texts)

    def get(self, key: str, **values: object) -> str:
        return Template(self._texts[key]).safe_substitute(**values)
