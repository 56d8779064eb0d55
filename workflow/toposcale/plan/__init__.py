"""The study plan: runs, checkpoint schedules, layer names, model shapes (light imports: the .smk files import it)."""
