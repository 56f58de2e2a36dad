"""The HR desk: the web pages where HR handlers and board members work cases."""
