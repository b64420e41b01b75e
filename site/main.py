# Entry point run by PyScript (see pyscript.json): everything else lives in the teachbox package.
from teachbox.app import start

api = await start()  # noqa: F704 - PyScript runs this file with top-level await
