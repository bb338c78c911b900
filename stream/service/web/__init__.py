"""The live web view: camera previews (MJPEG, snapshots) and the page that shows them."""
