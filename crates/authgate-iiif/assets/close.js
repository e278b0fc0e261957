// The access service's last page: the viewer waits for this window to close (IIIF Auth 2.0 §3).
window.close();
