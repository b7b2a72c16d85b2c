from django.urls import path, register_converter

from sessions_app import apis


class DatasetNameConverter:
    """Dataset names are Python identifiers; anything else cannot name a dataset."""

    regex = r"[A-Za-z_][A-Za-z0-9_]{0,63}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(DatasetNameConverter, "dataset")

urlpatterns = [
    path("generate-session", apis.GenerateSessionApi.as_view()),
    path("initialize-session", apis.InitializeSessionApi.as_view()),
    path("reset-session", apis.ResetSessionApi.as_view()),
    path("set-message-info", apis.SetMessageInfoApi.as_view()),
    path("api/session-info", apis.SessionInfoApi.as_view()),
    path("preview-csv-upload", apis.PreviewCsvUploadApi.as_view()),
    path("generate-description-from-preview", apis.DescriptionFromPreviewApi.as_view()),
    path("upload_dataframe", apis.UploadDataframeApi.as_view()),
    path("api/excel-sheets", apis.ExcelSheetsApi.as_view()),
    path("upload_excel", apis.UploadExcelApi.as_view()),
    path("api/default-dataset", apis.DefaultDatasetApi.as_view()),
    path("api/datasets", apis.DatasetListApi.as_view()),
    path("api/datasets/<dataset:name>", apis.DatasetDetailApi.as_view()),
    path("api/datasets/<dataset:name>/rows", apis.DatasetRowsApi.as_view()),
    path("api/datasets/<dataset:name>/profile", apis.DatasetProfileApi.as_view()),
    path("api/model-settings", apis.ModelSettingsApi.as_view()),
    path("settings/model", apis.ModelSettingsUpdateApi.as_view()),
    path("api/model-catalogue", apis.ModelCatalogueApi.as_view()),
]
