"""The torrents domain: users' libraries over the shared engine, history, takedown list.

Routes in ``endpoints``, rules in ``service``, SQL in ``repository``, HTTP error table in ``errors``.
"""
