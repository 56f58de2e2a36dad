"""Refresher quizzes: admin-edited files beside the FAQ, checked, served live and taken in the chat.

``loader`` reads the files, ``check`` adds the size and topic checks, ``library`` serves the current
quizzes, ``attempt`` is a worker's progress and ``render`` the words they read. The conversation
steps are in ``handlers.quiz_flow`` and ``handlers.training``.
"""
