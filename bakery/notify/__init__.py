"""Rollout notifications through apprise (Slack, Teams, Matrix, a JSON webhook, ...).

Low in the layers: it reads the definition's ``notify:`` and is called by the rollout executor
(through ``notifying``); it never imports the rollout.
"""

from bakery.notify.messages import EVENTS, Conversation, Message
from bakery.notify.notifier import Delivery, Notifier, notifying, resolve

__all__ = ["EVENTS", "Conversation", "Delivery", "Message", "Notifier", "notifying", "resolve"]
