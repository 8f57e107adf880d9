#!/bin/sh
# mailtier: give the exporter sidecar read access to a sendmail queue.
#
#   mqueue-permissions.sh [DIR]     (default /var/spool/mqueue)
#
# The directory becomes mode 2750 with group MAILTIER_QUEUE_GROUP (default
# mail, gid 12 on Amazon Linux 2023; smmsp on Debian): the owner (root)
# keeps full access, the group may list it and read files, nobody else may
# do anything. The set-group-ID bit makes new queue files inherit the
# group, and sendmail creates them 0640 (QueueFileMode in mailtier.m4).
# Files already queued get the same group and mode. Run it before sendmail
# starts, in place of a chmod 0700 of the queue.
#
# Only what is not yet in the group is chgrp'ed: the smtp-in tier has no
# CAP_CHOWN, and root may not give a file a group it is not a member of
# without it. The queue access points are created in gid 12 (mail) and the
# setgid bit keeps new files there, so on a queue this script has already
# seen nothing needs a chgrp.
#
# Only what is not yet in the group is chgrp'ed: the smtp-in tier has no
# CAP_CHOWN, and root may not give a file a group it is not a member of
# without it. The queue access points are created in gid 12 (mail) and the
# setgid bit keeps new files there, so on a queue this script has already
# seen nothing needs a chgrp.
set -eu

dir=${1:-/var/spool/mqueue}
group=${MAILTIER_QUEUE_GROUP:-mail}

install -d "$dir"
find "$dir" -maxdepth 0 ! -group "$group" -exec chgrp "$group" {} +
chmod 2750 "$dir"
# sendmail keeps qf, df and xf files in subdirectories of those names when
# they exist.
find "$dir" -mindepth 1 -maxdepth 1 -type d ! -group "$group" -exec chgrp "$group" {} +
find "$dir" -mindepth 1 -maxdepth 1 -type d -exec chmod 2750 {} +
find "$dir" -maxdepth 2 -type f \
	\( -name 'qf*' -o -name 'df*' -o -name 'hf*' -o -name 'Qf*' -o -name 'xf*' -o -name 'tf*' \) \
	! -group "$group" -exec chgrp "$group" {} +
find "$dir" -maxdepth 2 -type f \
	\( -name 'qf*' -o -name 'df*' -o -name 'hf*' -o -name 'Qf*' -o -name 'xf*' -o -name 'tf*' \) \
	-exec chmod 0640 {} +
