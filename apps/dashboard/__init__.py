"""The home page `/`: what needs the signed-in person now and how their teams keep their
promises. It owns no data: it reads from handoffs, reviews, agreements, notifications and
the compliance figures, so it sits above every other app."""
