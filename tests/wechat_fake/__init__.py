"""A fake of WeChat's servers for tests: the official-account API and WeCom group robots.

``with FakeWeChat() as wechat:`` serves on a loopback port in a thread; point wechatpy, httpx and
the token manager at ``wechat.base_url``. It answers as api.weixin.qq.com does (errcodes, errmsgs
with a ``rid``, token expiry on its clock), records every call for assertions, and lets a test
inject errors (``fail_next``), close a follower's 48-hour window, unfollow, serve media and add
robots. See ``server.FakeWeChat`` for the control API.
"""

from .server import DEFAULT_APP_ID, FakeWeChat
from .state import Call

__all__ = ["DEFAULT_APP_ID", "Call", "FakeWeChat"]
