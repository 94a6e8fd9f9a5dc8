#!/bin/sh
# Entry point of agent-streams/sandbox. matplotlib only uses an MPLCONFIGDIR it can write to;
# under a read-only root it would otherwise make a temporary one, warn on stderr and rebuild
# its font cache in every process. So MPLCONFIGDIR points into /tmp (a tmpfs in the sandbox)
# and is seeded here, once per container, with the cache built into the image.
# Every later `docker exec` in the same container finds it ready.
if [ -n "${MPLCONFIGDIR:-}" ] && [ ! -e "$MPLCONFIGDIR" ]; then
    cp -R /opt/matplotlib "$MPLCONFIGDIR" 2>/dev/null || true
fi
exec "$@"
