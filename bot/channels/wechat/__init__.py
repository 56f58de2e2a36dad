"""The WeChat official account channel.

Modules (imported directly; this package imports nothing, so no module pays for another's
dependencies and none can form an import cycle through it):

* ``callback``, ``adapter``, ``channel``: the ``/wechat`` route and its conversation handling.
* ``token``: the access token shared by every replica (``AccessTokenManager``).
* ``api``: the API calls over wechatpy in worker threads (``WeChatApi``), ``errors`` their types.
* ``sinks``: the outbox sink for customer-service messages; ``text``: 2,048-byte splitting.
* ``menu``: the custom menu of the six choices.
"""
