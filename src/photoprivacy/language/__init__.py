"""Caption analysis: which caption words tie to the person's action (w1) and place (w2)."""
