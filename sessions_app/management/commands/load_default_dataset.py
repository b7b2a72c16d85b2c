"""Write the default dataset's Parquet file once (idempotent), so the first session is quick."""

from django.core.management.base import BaseCommand

from sessions_app.services import default_dataset_file_get


class Command(BaseCommand):
    help = "Store the default dataset (Gapminder, shipped with plotly) as Parquet."

    def handle(self, *args, **options) -> None:
        dataset_file = default_dataset_file_get()
        self.stdout.write(f"default dataset: {dataset_file.n_rows} rows x {dataset_file.n_cols} columns")
