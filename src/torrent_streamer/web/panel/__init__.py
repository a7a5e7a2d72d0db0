"""The admin panel at ``/admin``: server-side sessions, CSRF, and pages calling the domain services.

Sign-in is password then TOTP (enrolment first when an admin or moderator has none).
"""
