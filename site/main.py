# Entry point run by PyScript (see pyscript.json): everything else lives in the teachbox package.
import js

await js.teachboxBoot.scripts  # noqa: F704 - TF.js and kernels.js have run (they load after PyScript: index.html)

from teachbox.app import start  # noqa: E402 - it reads `js.tf` on import

api = await start()  # noqa: F704 - PyScript runs this file with top-level await
