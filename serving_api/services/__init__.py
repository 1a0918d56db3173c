"""The service layer: what the API's routes and the web app's pages do, written once.

A route or a page turns its request into a call here and the result into JSON or
HTML; neither calls the other. The functions take the `Services` container
(`container.py`: everything the API talks to, built once per process) and, for
database work, the request's session; they raise `ApiError` with a stable code,
which the API answers as its error body and a page shows as a message.

- `accounts`: sign up, log in, log out, whether an email is registered.
- `videos`: who may see or change a video, listing, channels, editing, deleting, searching.
- `playback`: what a player needs for a video (URLs, captions, chapters, transcript, summary).
"""

from serving_api.services.container import Services, build_services

__all__ = ["Services", "build_services"]
