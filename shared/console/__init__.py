"""The operator console's static files (HTML, CSS, JS) and the headers they are served with."""
