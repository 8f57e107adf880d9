dnl
dnl mailtier: the sendmail settings the exporter sidecar depends on.
dnl
dnl Include this file at the end of the tier's sendmail.mc, after any other
dnl setting of the same options. cf.m4 writes the options out only once the
dnl whole .mc has been read, so the last setting wins. The line to add is
dnl     include(`/etc/mail/mailtier.m4')dnl
dnl with the path this file is installed at.
dnl
dnl LogLevel 9. sendmail logs the from= line of a message only above level
dnl 4, a permanent delivery failure (dsn=5.x.x) above 6, a successful
dnl delivery (stat=Sent) above 7 and a deferral (stat=Deferred) above 8. At
dnl level 2 none of them is written, and the exporter cannot count
dnl deliveries, bounces, deferrals or delivery delays. Level 9 also logs
dnl STARTTLS outcomes and sessions that ended without a transaction
dnl ("did not issue MAIL/EXPN/VRFY/ETRN"). Levels above 9 add detail the
dnl exporter does not use.
define(`confLOG_LEVEL', `9')dnl
dnl
dnl QueueFileMode 0640. Queue files (qf*, df*) become readable by the
dnl queue directory's group, so the exporter sidecar, a non-root user in
dnl that group, can read the queue but not change it. The queue directory
dnl itself must be group-readable and set-group-ID (mode 2750; group mail
dnl on Amazon Linux, smmsp on Debian) so that new files inherit its group:
dnl see mqueue-permissions.sh.
define(`confQUEUE_FILE_MODE', `0640')dnl
